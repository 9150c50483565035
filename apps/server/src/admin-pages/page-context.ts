import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { RmsError } from '@openrms/domain';
import type { AuthenticatedPrincipal, ClusterRuntime } from '@openrms/issuance';
import type { Store } from '@openrms/store';
import type { Html, Notice } from './html';

export interface AdminPagesDeps {
  runtime: ClusterRuntime;
  store: Store;
  logger: Logger;
  /** Where the background jobs run (shown on the renewal page). */
  jobs?: 'in-process' | 'redis' | undefined;
  /** Whether this member has Redis, so the queue dashboard shows queues. */
  hasQueues?: boolean;
}

export interface PageContext {
  req: Request;
  res: Response;
  deps: AdminPagesDeps;
  admin: AuthenticatedPrincipal;
  /** The form token for this administrator, for every POST form on the page. */
  csrf: string;
  notices: Notice[];
  /** The fields of a form that failed, shown again so nothing typed is lost (never passwords). */
  draft: Record<string, string>;
}

export interface Page {
  key: string;
  title: string;
  render(ctx: PageContext): Promise<Html>;
}

/** What a successful change tells the administrator, and where the browser goes next (303). */
export interface ActionResult {
  message: string;
  /** Path under the admin prefix, with its query. */
  redirect: string;
}

export type Action = (ctx: PageContext, form: FormFields) => Promise<ActionResult>;

const MAX_FIELD = 4096;

/** The fields of an urlencoded form, read strictly: one value per name unless asked for many. */
export class FormFields {
  constructor(private readonly body: Record<string, unknown>) {}

  static of(body: unknown): FormFields {
    return new FormFields(typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {});
  }

  /** One value; '' when absent. Required fields that are empty are an InvalidInput naming the label. */
  one(name: string, label?: string): string {
    const v = this.body[name];
    if (Array.isArray(v)) throw new RmsError('InvalidInput', `give "${label ?? name}" once`);
    const s = typeof v === 'string' ? v : '';
    if (s.length > MAX_FIELD) throw new RmsError('InvalidInput', `"${label ?? name}" is too long`);
    if (label !== undefined && s.trim() === '') throw new RmsError('InvalidInput', `${label} is required`);
    return s;
  }

  /** One value that may be long (a pasted certificate, an uploaded file's text); '' when absent. */
  long(name: string, label: string, max: number): string {
    const v = this.body[name];
    if (Array.isArray(v)) throw new RmsError('InvalidInput', `give ${label} once`);
    const s = typeof v === 'string' ? v : '';
    if (s.length > max) throw new RmsError('InvalidInput', `${label} is longer than ${max} characters`);
    return s;
  }

  many(name: string): string[] {
    const v = this.body[name];
    const list = Array.isArray(v) ? v : v === undefined ? [] : [v];
    return list.filter((x): x is string => typeof x === 'string' && x.trim() !== '').map((x) => x.trim());
  }

  /** Every single-valued field but the token and passwords, to fill the form in again after an error. */
  draft(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.body)) {
      if (k === 'csrf' || /password/i.test(k) || typeof v !== 'string') continue;
      out[k] = v.slice(0, MAX_FIELD);
    }
    return out;
  }
}

/** A query parameter given once, or undefined. */
export function queryOne(req: Request, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : undefined;
}
