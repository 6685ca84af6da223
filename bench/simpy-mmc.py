"""M/M/c in SimPy 3, the model bench/mmc.json gives fgo: Poisson arrivals, exponential service,
c servers (a simpy.Resource of capacity c, first come first served), run for a simulated span.

    python3 bench/simpy-mmc.py [--c 16] [--rate 15] [--service 1] [--hours 4] [--seed 1]

Prints one JSON line: customers completed, this process's CPU seconds for the run (setup
excluded), customers per CPU second, and the sojourn p50/p95/p99 in seconds (so the two models can
be seen to agree). Written as SimPy's own examples write a queue: a process per customer.
"""
import argparse
import json
import random
import time

import simpy


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--c', type=int, default=16)
    ap.add_argument('--rate', type=float, default=15.0)
    ap.add_argument('--service', type=float, default=1.0)
    ap.add_argument('--hours', type=float, default=4.0)
    ap.add_argument('--seed', type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=a.c)
    sojourn_s = []

    def customer(env):
        arrived = env.now
        with servers.request() as req:
            yield req
            yield env.timeout(rng.expovariate(1.0 / a.service))
        sojourn_s.append(env.now - arrived)

    def source(env):
        while True:
            yield env.timeout(rng.expovariate(a.rate))
            env.process(customer(env))

    env.process(source(env))
    t0 = time.process_time()
    env.run(until=a.hours * 3600)
    cpu_s = time.process_time() - t0
    s = sorted(sojourn_s)
    q = lambda p: s[min(len(s) - 1, int(p * len(s)))]
    print(json.dumps({'simpy': simpy.__version__, 'customers': len(s), 'cpu_s': round(cpu_s, 3),
                      'customers_per_s': round(len(s) / cpu_s), 'sojourn_s': {'p50': q(0.5), 'p95': q(0.95), 'p99': q(0.99)}}))


main()
