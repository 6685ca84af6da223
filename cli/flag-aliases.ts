/**
 * One flag name per meaning (docs/formats.md has the file names; this is the flags' rule): the
 * singular names one value (`--scenario NAME`, `--trace FILE`), the plural a list (`--scenarios
 * A,B`, `--traces A B`), and a list flag may be repeated, its values joined. The other spelling is a
 * hidden alias, so a script written against either still runs or fails clearly:
 * - a command that takes a list, given the singular, adds the value to its list and warns;
 * - a command that takes one, given the plural, takes a single value and warns, and refuses
 *   several (a usage error, exit 2) saying which command takes them.
 */
import { Option, type Command } from 'commander';

export interface FlagPair {
  one: string;
  many: string;
  /** What one value is, for messages: "scenario". */
  noun: string;
  /** The list flag's values: comma-separated (`A,B`) or space-separated (`A B`, variadic). */
  variadic: boolean;
}

export const SCENARIO_FLAGS: FlagPair = { one: 'scenario', many: 'scenarios', noun: 'scenario', variadic: false };
export const TRACE_FLAGS: FlagPair = { one: 'trace', many: 'traces', noun: 'trace', variadic: true };

const warn = (cmd: Command, text: string) => process.stderr.write(`warning: fgo ${cmd.name()}: ${text}\n`);

/** A command that takes a list (`--scenarios`, `--traces`): repeated use joins; the singular is a warned alias. */
export function takesList(cmd: Command, f: FlagPair): Command {
  cmd.addOption(new Option(`--${f.one} <value>`).hideHelp());
  const given: string[] = [];
  let aliased = false;
  const keep = () => cmd.setOptionValueWithSource(f.many, f.variadic ? [...given] : given.join(','), 'cli');
  cmd.on(`option:${f.many}`, (v: string) => given.push(v));
  // Set at once, so a required list given only by the alias is there when commander checks.
  cmd.on(`option:${f.one}`, (v: string) => {
    given.push(v);
    aliased = true;
    keep();
  });
  // Every value in command-line order, whichever spelling, once commander has parsed them all.
  cmd.hook('preAction', () => {
    if (given.length) keep();
    if (aliased)
      warn(
        cmd,
        `--${f.one} is read as --${f.many} (this command takes a list of ${f.noun}s: --${f.many} ${f.variadic ? 'A B' : 'A,B'})`,
      );
  });
  return cmd;
}

/** A command that takes one (`--scenario`, `--trace`): the plural is a warned alias for one value, refused for several. */
export function takesOne(cmd: Command, f: FlagPair, forSeveral: string): Command {
  cmd.addOption(new Option(f.variadic ? `--${f.many} <values...>` : `--${f.many} <list>`).hideHelp());
  const given: string[] = [];
  cmd.on(`option:${f.many}`, (v: string) => {
    given.push(...(f.variadic ? [v] : v.split(',')));
    if (given.length > 1)
      cmd.error(`error: fgo ${cmd.name()} takes one ${f.noun} (--${f.one}), not ${given.length}; ${forSeveral}`);
    cmd.setOptionValueWithSource(f.one, given[0], 'cli');
  });
  cmd.hook('preAction', () => {
    if (given.length) warn(cmd, `--${f.many} is read as --${f.one} (this command takes one ${f.noun})`);
  });
  return cmd;
}

/** A flag a command no longer has, whose old meaning clashes with the name's meaning elsewhere: a usage error that says what to use. */
export function removedFlag(cmd: Command, flags: string, why: string): Command {
  const o = new Option(flags).hideHelp();
  cmd.addOption(o);
  cmd.on(`option:${o.name()}`, () => cmd.error(`error: fgo ${cmd.name()} ${o.long}: ${why}`));
  return cmd;
}
