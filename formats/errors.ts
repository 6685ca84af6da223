/**
 * The error every reader of user input throws: a list of problems a person can act on (each with
 * its `file:line:col` or field path), and the exit status the command line gives them. Run
 * directories a report cannot use and host roots that cannot be read are InputErrors too; a
 * subclass exists only where a caller must tell it apart (live/config.ts LiveConfigError, whose
 * field paths cli/live.ts locates in the file). The engine's ConfigError and TopologyError carry
 * problems the same way but stay in engine/, which imports nothing outside itself.
 */
export class InputError extends Error {
  /**
   * Exit status: 1 for a file that fails validation; the run commands use 2 for bad run inputs.
   * `message` defaults to the problems, one a line.
   */
  constructor(
    readonly problems: string[],
    readonly exitCode = 1,
    message = problems.join('\n'),
  ) {
    super(message);
    this.name = 'InputError';
  }
}
