/**
 * Pipelined requests (a client that sends its next request before the answer to the one before)
 * are handled one at a time, in the order they came. Node's HTTP server hands each request over
 * as soon as it has parsed its headers and only holds back the answers, so on its own:
 *
 * - a pipelined PUT then GET (or DELETE) of one key ran at once, and the GET could read what
 *   was there before the PUT (RFC 9112 9.3.2 lets a server process pipelined requests in
 *   parallel only when they are all safe);
 * - one connection could start any number of requests together (300 GETs written in one go held
 *   300 open files), beyond what --max-connections bounds;
 * - the answers queued behind the first one are never given the socket: when the client went
 *   away, nothing told their handlers, and each held its file (fs) or its connection to the
 *   store (s3) for the life of the process.
 *
 * Here a request waits until the answer before it has finished (or its connection closed); one
 * whose connection closed while it waited is never started. While many wait, the connection is
 * not read further, so a client cannot queue requests without bound.
 */
import type http from 'node:http';
import type { Socket } from 'node:net';

type RequestListener = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** Requests parsed ahead of the one under way before s3mux stops reading their connection. */
export const MAX_WAITING = 16;

interface Line {
  /** The request under way on this connection, if any. */
  busy: boolean;
  waiting: Array<[http.IncomingMessage, http.ServerResponse]>;
  paused: boolean;
}

export function oneAtATime(app: RequestListener): RequestListener {
  const lines = new WeakMap<Socket, Line>();

  const start = (line: Line, socket: Socket, req: http.IncomingMessage, res: http.ServerResponse): void => {
    line.busy = true;
    let over = false;
    const next = () => {
      if (over) return;
      over = true;
      line.busy = false;
      // A request whose connection closed while it waited was destroyed by Node: nobody is left to answer.
      let item = line.waiting.shift();
      while (item && (item[0].destroyed || socket.destroyed)) item = line.waiting.shift();
      if (line.paused && line.waiting.length < MAX_WAITING) {
        line.paused = false;
        socket.resume();
      }
      if (item) start(line, socket, item[0], item[1]);
    };
    // 'finish': the answer is all handed to the socket (Node gives the next answer the socket first).
    res.once('finish', next);
    res.once('close', next);
    app(req, res);
  };

  return (req, res) => {
    const socket = req.socket;
    let line = lines.get(socket);
    if (!line) {
      line = { busy: false, waiting: [], paused: false };
      lines.set(socket, line);
    }
    if (!line.busy) {
      start(line, socket, req, res);
      return;
    }
    line.waiting.push([req, res]);
    if (line.waiting.length >= MAX_WAITING && !line.paused) {
      line.paused = true;
      socket.pause();
    }
  };
}
