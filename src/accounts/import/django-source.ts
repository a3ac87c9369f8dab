import { validateAccountFields } from '../accounts.service.ts';
import type { DjangoUser } from './django-users.repo.ts';
import { checkAccount } from './import-record.ts';
import type { ImportItem } from './import.service.ts';

export interface DjangoOptions {
  /** is_staff gives the `admin` role only when asked (`--map-staff-to-admin`). */
  mapStaffToAdmin?: boolean;
  /** Django never confirms addresses: mark them confirmed only when the admin says so (`--verified`). */
  verified?: boolean;
}

export interface DjangoStats {
  /** Usernames that do not fit Gatehouse's rule (Django allows @, + and 150 characters). */
  usernamesLeftOut: number;
}

// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * Django users as import items: the e-mail address, the encoded password as Django stored it,
 * "first last" as the name, is_active false as a disabled account, date_joined as its creation
 * time. A username Gatehouse cannot take is left out (the user signs in with the e-mail
 * address). An item's `line` is the user's auth_user id.
 */
export async function* djangoItems(users: AsyncIterable<DjangoUser>, options: DjangoOptions, stats: DjangoStats): AsyncGenerator<ImportItem> {
  for await (const user of users) {
    const line = user.id;
    const name = `${user.firstName ?? ''} ${user.lastName ?? ''}`.replace(CONTROL_RE, ' ').trim().slice(0, 200);
    let username: string | undefined = user.username?.trim() || undefined;
    if (username && validateAccountFields({ email: 'x@example.com', username }).username) {
      username = undefined;
      stats.usernamesLeftOut++;
    }
    if (!user.email?.trim()) {
      yield { line, checked: { error: 'no e-mail address (Gatehouse accounts sign in with one)' } };
      continue;
    }
    const checked = checkAccount({
      email: user.email,
      name,
      username,
      emailVerified: options.verified === true,
      roles: options.mapStaffToAdmin && user.isStaff ? ['admin'] : [],
      passwordHash: user.password,
      disabled: !user.isActive,
      createdAt: user.dateJoined,
    });
    yield { line, checked };
  }
}
