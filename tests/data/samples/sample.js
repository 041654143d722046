// Event helpers for the browser client.

import { send } from "./transport.js";

const RETRY_LIMIT = 3;

/**
 * A queue of events waiting to be sent.
 */
export class EventQueue extends BaseQueue {
  constructor(limit) {
    super();
    this.limit = limit;
    this.events = [];
  }

  // Add an event, dropping the oldest when full.
  push(event) {
    if (this.events.length >= this.limit) {
      this.events.shift();
    }
    this.events.push(event);
  }

  /** Send every queued event. */
  async flush() {
    for (const event of this.events) {
      await sendWithRetry(event);
    }
    this.events = [];
  }
}

/**
 * Send one event, retrying on failure.
 * @param {object} event
 */
export async function sendWithRetry(event, attempts = RETRY_LIMIT) {
  for (let i = 0; i < attempts; i++) {
    if (await send(event)) return true;
  }
  return false;
}

// Make a queue with the default limit.
export const makeQueue = (limit = 50) => new EventQueue(limit);
