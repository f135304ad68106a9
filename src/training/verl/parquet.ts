/**
 * verl rows -> parquet bytes, through Apache Arrow (apache-arrow) and the Rust parquet writer
 * compiled to WebAssembly (parquet-wasm). The Arrow schema is spelled out so the nested columns come
 * out as the types verl's dataset loaders read: prompt list<struct<role, content>>, reward_model
 * struct<style, ground_truth>, extra_info struct<split, index int64, sample_id, tools>.
 */
import { Field, Int32, Int64, List, RecordBatch, Schema, Struct, Table, Utf8, tableToIPC, vectorFromArray } from "apache-arrow";
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from "parquet-wasm";
import type { VerlRow, VerlSftMessage } from "./rows.js";

const text = (name: string) => new Field(name, new Utf8(), false);

export const VERL_ARROW_SCHEMA = new Schema([
  text("data_source"),
  new Field("prompt", new List(new Field("element", new Struct([text("role"), text("content")]), false)), false),
  text("ability"),
  new Field("reward_model", new Struct([text("style"), text("ground_truth")]), false),
  new Field("extra_info", new Struct([text("split"), new Field("index", new Int64(), false), text("sample_id"), text("tools")]), false),
]);

/** Rows per parquet row group: small enough that a reader can stream a large file. */
const ROW_GROUP_SIZE = 1024;

/** The whole file in memory (one iteration's samples: tens of MB at most), deterministic for equal rows. */
export function encodeVerlParquet(rows: readonly VerlRow[]): Uint8Array {
  return encode(VERL_ARROW_SCHEMA, rows);
}

function encode(schema: Schema, rows: readonly object[]): Uint8Array {
  // One struct vector over whole rows, cut into record batches of the schema (also for zero rows,
  // where a column-wise Table would lose the schema's nullability).
  const rowsVector = vectorFromArray(rows, new Struct(schema.fields));
  const table = new Table(
    schema,
    rowsVector.data.map((d) => new RecordBatch(schema, d)),
  );
  const wasmTable = WasmTable.fromIPCStream(tableToIPC(table, "stream"));
  const props = new WriterPropertiesBuilder().setCompression(Compression.SNAPPY).setMaxRowGroupSize(ROW_GROUP_SIZE).build();
  return writeParquet(wasmTable, props);
}

/**
 * verl's multi-turn SFT dataset: a `messages` list (tool calls as Hermes text, tools in the system
 * turn; each message's `weight` says whether it is trained, see VerlSftMessage) and the sample id.
 */
export const SFT_ARROW_SCHEMA = new Schema([
  new Field("messages", new List(new Field("element", new Struct([text("role"), text("content"), new Field("weight", new Int32(), true)]), false)), false),
  text("sample_id"),
]);

export interface SftRow {
  messages: VerlSftMessage[];
  sample_id: string;
}

export function encodeSftParquet(rows: readonly SftRow[]): Uint8Array {
  return encode(SFT_ARROW_SCHEMA, rows);
}
