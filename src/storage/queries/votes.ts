import { serialize } from '../../protocol/json.ts';
import type { Vote } from '../../protocol/vote.ts';
import type { SqlSession } from '../driver.ts';
import { partition, type WriteResult } from './shared.ts';

export interface StoredVote {
  vote: Vote;
  text: string;
}

export function storedVote(doc: string): StoredVote {
  return { vote: JSON.parse(doc) as Vote, text: doc };
}

/** Inserts votes; a second vote by the same node on the same block is refused and reported by block id. */
export async function writeVotes(session: SqlSession, votes: readonly Vote[]): Promise<WriteResult> {
  if (votes.length === 0) return { inserted: [], duplicates: [] };
  const rows = await session.query<{ block_id: string; voter: string }>(
    `INSERT INTO votes (block_id, voter, previous_block, is_block_valid, vote_timestamp, doc)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[], $5::text[], $6::text[])
     ON CONFLICT DO NOTHING RETURNING block_id, voter`,
    [
      votes.map((vote) => vote.vote.voting_for_block),
      votes.map((vote) => vote.node_pubkey),
      votes.map((vote) => vote.vote.previous_block),
      votes.map((vote) => vote.vote.is_block_valid),
      votes.map((vote) => vote.vote.timestamp),
      votes.map((vote) => serialize(vote)),
    ],
  );
  const written = new Set(rows.map((row) => `${row.block_id} ${row.voter}`));
  const keys = votes.map((vote) => `${vote.vote.voting_for_block} ${vote.node_pubkey}`);
  const result = partition(keys, written);
  const blockOf = (key: string) => key.slice(0, key.indexOf(' '));
  return { inserted: result.inserted.map(blockOf), duplicates: result.duplicates.map(blockOf) };
}

/** The votes cast on each block, in the order they were stored. */
export async function getVotes(
  session: SqlSession,
  blockIds: readonly string[],
): Promise<Map<string, StoredVote[]>> {
  const rows = await session.query<{ block_id: string; doc: string }>(
    'SELECT block_id, doc FROM votes WHERE block_id = ANY($1::text[]) ORDER BY seq',
    [blockIds],
  );
  const byBlock = new Map<string, StoredVote[]>(blockIds.map((id) => [id, []]));
  for (const row of rows) byBlock.get(row.block_id)?.push(storedVote(row.doc));
  return byBlock;
}

export async function getVote(
  session: SqlSession,
  blockId: string,
  voter: string,
): Promise<StoredVote | undefined> {
  const [row] = await session.query<{ doc: string }>(
    'SELECT doc FROM votes WHERE block_id = $1 AND voter = $2',
    [blockId, voter],
  );
  return row === undefined ? undefined : storedVote(row.doc);
}

/** The vote `voter` stored last: the head of its chain of previous_block links. */
export async function lastVote(session: SqlSession, voter: string): Promise<StoredVote | undefined> {
  const [row] = await session.query<{ doc: string }>(
    'SELECT doc FROM votes WHERE voter = $1 ORDER BY seq DESC LIMIT 1',
    [voter],
  );
  return row === undefined ? undefined : storedVote(row.doc);
}
