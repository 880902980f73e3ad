/**
 * The part of wandb's `wandb_internal.Record` protobuf (wandb/proto/wandb_internal.proto)
 * that the importer reads; protobufjs skips every other field of the log.
 */
import protobuf from "protobufjs";

const timestamp = { fields: { seconds: { type: "int64", id: 1 }, nanos: { type: "int32", id: 2 } } };
const item = {
  fields: {
    key: { type: "string", id: 1 },
    nestedKey: { rule: "repeated", type: "string", id: 2 },
    valueJson: { type: "string", id: 16 },
  },
};

const root = protobuf.Root.fromJSON({
  nested: {
    wandb_internal: {
      nested: {
        Timestamp: timestamp,
        ConfigItem: item,
        SummaryItem: item,
        HistoryItem: {
          fields: {
            key: { type: "string", id: 1 },
            nestedKey: { rule: "repeated", type: "string", id: 2 },
            none: { type: "int32", id: 3 },
            boolean: { type: "bool", id: 4 },
            integer: { type: "sint64", id: 5 },
            number: { type: "double", id: 6 },
            text: { type: "string", id: 7 },
            json: { type: "string", id: 8 },
            valueJson: { type: "string", id: 16 },
          },
        },
        HistoryStep: { fields: { num: { type: "int64", id: 1 } } },
        HistoryRecord: {
          fields: {
            item: { rule: "repeated", type: "HistoryItem", id: 1 },
            step: { type: "HistoryStep", id: 2 },
          },
        },
        ConfigRecord: {
          fields: {
            update: { rule: "repeated", type: "ConfigItem", id: 1 },
            remove: { rule: "repeated", type: "ConfigItem", id: 2 },
          },
        },
        SummaryRecord: {
          fields: {
            update: { rule: "repeated", type: "SummaryItem", id: 1 },
            remove: { rule: "repeated", type: "SummaryItem", id: 2 },
          },
        },
        GitRepoRecord: { fields: { remoteUrl: { type: "string", id: 1 }, commit: { type: "string", id: 2 } } },
        RunRecord: {
          fields: {
            runId: { type: "string", id: 1 },
            entity: { type: "string", id: 2 },
            project: { type: "string", id: 3 },
            config: { type: "ConfigRecord", id: 4 },
            runGroup: { type: "string", id: 6 },
            jobType: { type: "string", id: 7 },
            displayName: { type: "string", id: 8 },
            notes: { type: "string", id: 9 },
            tags: { rule: "repeated", type: "string", id: 10 },
            host: { type: "string", id: 13 },
            startTime: { type: "Timestamp", id: 17 },
            git: { type: "GitRepoRecord", id: 21 },
          },
        },
        RunExitRecord: { fields: { exitCode: { type: "int32", id: 1 }, runtime: { type: "int32", id: 2 } } },
        Record: {
          fields: {
            history: { type: "HistoryRecord", id: 2 },
            summary: { type: "SummaryRecord", id: 3 },
            config: { type: "ConfigRecord", id: 5 },
            run: { type: "RunRecord", id: 17 },
            exit: { type: "RunExitRecord", id: 18 },
          },
        },
      },
    },
  },
});

const RECORD = root.lookupType("wandb_internal.Record");

export interface WandbItem {
  key?: string;
  nestedKey?: string[];
  valueJson?: string;
}

export interface WandbHistoryItem extends WandbItem {
  none?: number;
  boolean?: boolean;
  integer?: number;
  number?: number;
  text?: string;
  json?: string;
}

export interface WandbChanges {
  update?: WandbItem[];
  remove?: WandbItem[];
}

export interface WandbRecord {
  history?: { item?: WandbHistoryItem[]; step?: { num?: number } };
  summary?: WandbChanges;
  config?: WandbChanges;
  run?: {
    runId?: string;
    entity?: string;
    project?: string;
    config?: WandbChanges;
    runGroup?: string;
    jobType?: string;
    displayName?: string;
    notes?: string;
    tags?: string[];
    host?: string;
    startTime?: { seconds?: number; nanos?: number };
    git?: { remoteUrl?: string; commit?: string };
  };
  exit?: { exitCode?: number; runtime?: number };
}

/** One log record's data as the fields above; throws when it is not a protobuf message. */
export function decodeWandbRecord(data: Uint8Array): WandbRecord {
  return RECORD.toObject(RECORD.decode(data), { longs: Number }) as WandbRecord;
}
