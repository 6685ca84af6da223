/**
 * The error every reader of user input throws: a list of problems a person can act on (each with
 * its `file:line:col` or field path), and the exit status the command line gives them.
 */
export class InputError extends Error {
  /** Exit status: 1 for a file that fails validation; the run commands use 2 for bad run inputs. */
  constructor(readonly problems: string[], readonly exitCode = 1) {
    super(problems.join('\n'));
    this.name = 'InputError';
  }
}
