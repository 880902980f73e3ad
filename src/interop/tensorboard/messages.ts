/**
 * The few TensorFlow/TensorBoard protobuf messages the importer reads, as
 * protobufjs JSON descriptors (inlined, so the built package needs no .proto
 * file). Field numbers follow tensorflow/core/util/event.proto,
 * tensorflow/core/framework/summary.proto, tensor.proto, tensor_shape.proto,
 * tensorboard/plugins/hparams/plugin_data.proto and google/protobuf/struct.proto;
 * fields the importer does not read are left out (protobuf skips unknown fields).
 */
import protobuf from "protobufjs";

const DESCRIPTOR = {
  nested: {
    tensorboard: {
      nested: {
        Event: {
          oneofs: { what: { oneof: ["fileVersion", "summary"] } },
          fields: {
            wallTime: { type: "double", id: 1 },
            step: { type: "int64", id: 2 },
            fileVersion: { type: "string", id: 3 },
            summary: { type: "Summary", id: 5 },
          },
        },
        Summary: {
          fields: { value: { rule: "repeated", type: "Value", id: 1 } },
          nested: {
            Value: {
              oneofs: { value: { oneof: ["simpleValue", "tensor"] } },
              fields: {
                tag: { type: "string", id: 1 },
                simpleValue: { type: "float", id: 2 },
                tensor: { type: "TensorProto", id: 8 },
                metadata: { type: "SummaryMetadata", id: 9 },
              },
            },
          },
        },
        SummaryMetadata: {
          fields: { pluginData: { type: "PluginData", id: 1 } },
          nested: {
            PluginData: {
              fields: {
                pluginName: { type: "string", id: 1 },
                content: { type: "bytes", id: 2 },
              },
            },
          },
        },
        TensorProto: {
          fields: {
            dtype: { type: "int32", id: 1 },
            tensorShape: { type: "TensorShapeProto", id: 2 },
            tensorContent: { type: "bytes", id: 4 },
            floatVal: { rule: "repeated", type: "float", id: 5, options: { packed: true } },
            doubleVal: { rule: "repeated", type: "double", id: 6, options: { packed: true } },
          },
        },
        TensorShapeProto: {
          fields: { dim: { rule: "repeated", type: "Dim", id: 2 } },
          nested: { Dim: { fields: { size: { type: "int64", id: 1 } } } },
        },
        HParamsPluginData: {
          oneofs: { data: { oneof: ["sessionStartInfo", "sessionEndInfo"] } },
          fields: {
            version: { type: "int32", id: 1 },
            sessionStartInfo: { type: "SessionStartInfo", id: 3 },
            sessionEndInfo: { type: "SessionEndInfo", id: 4 },
          },
        },
        SessionStartInfo: {
          fields: {
            hparams: { keyType: "string", type: "ProtoValue", id: 1 },
            groupName: { type: "string", id: 4 },
            startTimeSecs: { type: "double", id: 5 },
          },
        },
        SessionEndInfo: {
          fields: {
            status: { type: "int32", id: 1 },
            endTimeSecs: { type: "double", id: 2 },
          },
        },
        ProtoValue: {
          oneofs: {
            kind: { oneof: ["nullValue", "numberValue", "stringValue", "boolValue", "structValue", "listValue"] },
          },
          fields: {
            nullValue: { type: "int32", id: 1 },
            numberValue: { type: "double", id: 2 },
            stringValue: { type: "string", id: 3 },
            boolValue: { type: "bool", id: 4 },
            structValue: { type: "ProtoStruct", id: 5 },
            listValue: { type: "ProtoList", id: 6 },
          },
        },
        ProtoStruct: {
          fields: { fields: { keyType: "string", type: "ProtoValue", id: 1 } },
        },
        ProtoList: {
          fields: { values: { rule: "repeated", type: "ProtoValue", id: 1 } },
        },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(DESCRIPTOR);

/** tensorflow.DataType values the importer reads as scalars. */
export const DT_FLOAT = 1;
export const DT_DOUBLE = 2;

/** tensorboard.hparams.Status: how a session ended. */
export const HPARAMS_STATUS = { unknown: 0, success: 1, failure: 2, running: 3 } as const;

export interface ProtoValue {
  nullValue?: number;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: { fields?: Record<string, ProtoValue> };
  listValue?: { values?: ProtoValue[] };
}

export interface SummaryValue {
  tag: string;
  simpleValue?: number;
  tensor?: {
    dtype: number;
    tensorShape?: { dim?: { size: number }[] };
    tensorContent?: Uint8Array;
    floatVal?: number[];
    doubleVal?: number[];
  };
  metadata?: { pluginData?: { pluginName: string; content?: Uint8Array } };
}

export interface TfEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  summary?: { value?: SummaryValue[] };
}

export interface HParamsPluginData {
  sessionStartInfo?: { hparams?: Record<string, ProtoValue>; groupName: string; startTimeSecs: number };
  sessionEndInfo?: { status: number; endTimeSecs: number };
}

const eventType = root.lookupType("tensorboard.Event");
const hparamsType = root.lookupType("tensorboard.HParamsPluginData");
// int64 fields as JS numbers (steps beyond 2^53 do not occur in practice); oneof members only when set.
const AS_OBJECT = { longs: Number, oneofs: false, defaults: false } as const;

export function decodeEvent(bytes: Uint8Array): TfEvent {
  const object = eventType.toObject(eventType.decode(bytes), AS_OBJECT) as Partial<TfEvent>;
  return { ...object, wallTime: object.wallTime ?? 0, step: object.step ?? 0 };
}

export function decodeHParams(bytes: Uint8Array): HParamsPluginData {
  return hparamsType.toObject(hparamsType.decode(bytes), AS_OBJECT) as HParamsPluginData;
}
