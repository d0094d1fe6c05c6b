/**
 * GetObjectTorrent. s3mux serves no object as a torrent; it answers as S3 does for an
 * object it has no torrent for (404 NoSuchKey), after the usual checks, rather than
 * falling through to GetObject and sending the bytes as if they were a torrent file.
 */
import { S3Error } from '../../errors';
import type { Handler } from '../context';

export const getObjectTorrent: Handler = async (ctx) => {
  await ctx.bucket().headObject(ctx.key);
  throw new S3Error('NoSuchKey', 'The specified key does not exist: s3mux does not serve objects as torrents.', { Key: ctx.key });
};
