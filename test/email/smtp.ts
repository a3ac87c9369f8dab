import { SMTPServer, type SMTPServerDataStream } from 'smtp-server';
import { freePort } from '../helpers/server.ts';

/** One message as the SMTP server received it. */
export interface Received {
  envelopeTo: string[];
  raw: string;
  headers: Map<string, string>;
  subject: string;
  messageId: string;
  text: string;
  html: string;
}

export type Mode =
  /** Accept every message. */
  | 'accept'
  /** Refuse every recipient with a permanent 550. */
  | 'reject-550'
  /** Refuse every recipient with a temporary 451. */
  | 'reject-451'
  /** Take the message body, then never answer: a send that hangs until the sender dies. */
  | 'stall';

function unfoldHeaders(head: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  return headers;
}

function decodePart(part: string): { type: string; body: string } {
  const split = part.indexOf('\r\n\r\n');
  const headers = unfoldHeaders(part.slice(0, split));
  let body = part.slice(split + 4);
  const encoding = (headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  if (encoding === 'quoted-printable') {
    const bytes = body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    body = Buffer.from(bytes, 'latin1').toString('utf8');
  } else if (encoding === 'base64') {
    body = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  }
  return { type: (headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase(), body };
}

/** Headers, subject and the decoded text and HTML parts of a message from nodemailer. */
export function parse(raw: string, envelopeTo: string[]): Received {
  const split = raw.indexOf('\r\n\r\n');
  const headers = unfoldHeaders(raw.slice(0, split));
  const boundary = /boundary="?([^";]+)"?/.exec(headers.get('content-type') ?? '')?.[1];
  const parts = boundary ? raw.split(`--${boundary}`).slice(1, -1).map((p) => decodePart(p.replace(/^\r\n/, ''))) : [decodePart(raw)];
  return {
    envelopeTo,
    raw,
    headers,
    subject: headers.get('subject') ?? '',
    messageId: headers.get('message-id') ?? '',
    text: parts.find((p) => p.type === 'text/plain')?.body ?? '',
    html: parts.find((p) => p.type === 'text/html')?.body ?? '',
  };
}

/** The first link of a message's plain-text part that starts with `prefix`. */
export function linkIn(message: Received, prefix: string): string {
  const link = message.text.split(/\s+/).find((w) => w.startsWith(prefix));
  if (!link) throw new Error(`no link starting with ${prefix} in:\n${message.text}`);
  return link;
}

/**
 * A real SMTP server (the `smtp-server` package) on a local port, for the mailer to talk to.
 * `stop()` closes the port (an SMTP server that is down); `start()` opens it again on the same
 * port; `mode` decides how it answers.
 */
export class TestSmtp {
  readonly received: Received[] = [];
  /** Messages whose DATA began in 'stall' mode (they never get an answer). */
  stalled = 0;
  mode: Mode = 'accept';
  /** In 'accept' mode, how long the server takes to answer a message's DATA (a slow relay). */
  acceptDelayMs = 0;
  /** Messages whose DATA began, answered or not. */
  dataStarted = 0;
  /** Runs when a message has arrived, before the server answers that it took it (in 'accept' mode). */
  beforeAnswer?: () => Promise<void>;
  port = 0;
  private server?: SMTPServer;
  private waiters: (() => void)[] = [];

  get url() {
    return `smtp://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.port ||= await freePort();
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      // The 'stall' mode leaves a client hanging; closing must not wait for it.
      closeTimeout: 100,
      onRcptTo: (_address, _session, callback) => {
        if (this.mode === 'reject-550' || this.mode === 'reject-451') {
          const err = new Error(this.mode === 'reject-550' ? 'mailbox unavailable' : 'try again later') as Error & { responseCode: number };
          err.responseCode = this.mode === 'reject-550' ? 550 : 451;
          return callback(err);
        }
        callback();
      },
      onData: (stream: SMTPServerDataStream, session, callback) => {
        const chunks: Buffer[] = [];
        this.dataStarted++;
        this.notify();
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          if (this.mode === 'stall') {
            this.stalled++;
            this.notify();
            return;
          }
          const accept = () => {
            this.received.push(parse(Buffer.concat(chunks).toString('utf8'), session.envelope.rcptTo.map((r) => r.address)));
            this.notify();
            void (this.beforeAnswer?.() ?? Promise.resolve()).then(() => callback());
          };
          if (this.acceptDelayMs > 0) setTimeout(accept, this.acceptDelayMs);
          else accept();
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server.on('error', () => {});
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private notify() {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once `predicate` holds (checked on every message); the test's own timeout bounds it. */
  async until(predicate: (s: this) => boolean): Promise<void> {
    while (!predicate(this)) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Waits for a message to `to`, the newest first. */
  async messageTo(to: string, { count = 1 } = {}): Promise<Received> {
    const forTo = () => this.received.filter((m) => m.envelopeTo.includes(to));
    await this.until(() => forTo().length >= count);
    return forTo().at(-1)!;
  }
}

export async function startSmtp(): Promise<TestSmtp> {
  return new TestSmtp().start();
}
