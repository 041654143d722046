// Typed user repository.

import { Database } from "./db";

/** Something with an id. */
export interface Entity {
  id: number;
  label(): string;
}

export type UserId = number;

export enum Role {
  Admin,
  Member,
}

/**
 * Users kept in a database table.
 */
export class UserRepository implements Repository<User> {
  private cache = new Map<UserId, User>();

  constructor(private readonly db: Database) {}

  /** Find a user by id, caching the result. */
  async find(id: UserId): Promise<User | undefined> {
    const hit = this.cache.get(id);
    if (hit) return hit;
    const row = await this.db.query("select * from users where id = ?", [id]);
    return row ? toUser(row) : undefined;
  }
}

// Turn a database row into a user.
export function toUser(row: Record<string, unknown>): User {
  return new User(Number(row.id), String(row.name));
}

export const isAdmin = (user: User): boolean => user.role === Role.Admin;
