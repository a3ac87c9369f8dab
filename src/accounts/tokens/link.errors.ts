import { AppError } from '../../errors.ts';
import type { TokenProblem } from './email-tokens.repo.ts';

const MESSAGES: Record<TokenProblem, string> = {
  invalid: 'This link is not valid. Check that you opened the whole link from the e-mail.',
  expired: 'This link has expired.',
  used: 'This link was already used.',
};

/** A mailed link that does not work (any more). The page offers a new one. */
export class LinkError extends AppError {
  readonly problem: TokenProblem;
  constructor(problem: TokenProblem) {
    super(`LINK_${problem.toUpperCase()}`, 400, MESSAGES[problem]);
    this.name = 'LinkError';
    this.problem = problem;
  }
}
