import { AppError } from '../../errors.ts';
import type { TokenProblem } from './email-tokens.repo.ts';
import { translate } from '../../i18n/locale.ts';


/** A mailed link that does not work (any more). The page offers a new one. */
export class LinkError extends AppError {
  readonly problem: TokenProblem;
  constructor(problem: TokenProblem) {
    super(`LINK_${problem.toUpperCase()}`, 400, translate(`link.${problem}`));
    this.name = 'LinkError';
    this.problem = problem;
  }
}
