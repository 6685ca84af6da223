# The fgo image that deploy/daemonset.yaml and deploy/tune-job.yaml run (ghcr.io/example/fgo:0.1.0,
# a placeholder name: push it where your nodes pull from and change the manifests to match):
#
#   docker build -t ghcr.io/example/fgo:0.1.0 --build-arg FGO_COMMIT="$(git rev-parse HEAD)" .
#
# Node 20 on Debian bookworm (glibc: onnxruntime-node, koffi and resvg ship glibc binaries) with
# this repository at /opt/fgo. There is no build step: tsx runs the TypeScript (bin/fgo.mjs), and
# its compile cache goes to /tmp, which the manifests mount as a memory emptyDir because the root
# filesystem is read-only there. No USER line: the DaemonSet runs the agent as root with a few
# capabilities (deploy/README.md), the tune Jobs as uid 1000; both only read /opt/fgo.
FROM node:20-bookworm-slim

WORKDIR /opt/fgo

# Dependencies first, so a source change does not reinstall them. .npmrc sets ignore-scripts: no
# package needs its install script (onnxruntime-node's CPU build, koffi's and esbuild's binaries
# ship in the packages). onnxruntime-node also ships macOS and Windows builds (about 220 MB) that
# a Linux image never loads.
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev \
 && rm -rf node_modules/onnxruntime-node/bin/napi-v*/darwin node_modules/onnxruntime-node/bin/napi-v*/win32 \
 && npm cache clean --force

# The sources the CLI loads (.dockerignore leaves out tests, benchmarks, git and CI files).
COPY . .

# fgo_build_info{commit} (docs/prometheus.md); empty when not given.
ARG FGO_COMMIT=""
ENV FGO_COMMIT=${FGO_COMMIT}

ENTRYPOINT ["node", "/opt/fgo/bin/fgo.mjs"]
# The manifests give their own arguments; without any, the image prints the commands it has.
CMD ["--help"]
