export { LineSplitter } from './lines.ts';
export type { Line, LineSplitterOptions } from './lines.ts';
export {
  COMMANDS, MAX_HOST_LINE, MAX_ID, PREFIX, PROTO_VERSION,
  encodeCommand, encodeEvent, encodeReply, errBody, parseDeviceLine, parseHostLine,
} from './codec.ts';
export type { ArgValue, DeviceLine, HostCommand, ParsedHostLine } from './codec.ts';
export { ERR_CODES, ProtocolError } from './errors.ts';
export type { ErrCode } from './errors.ts';
export {
  argBase64, argBool, argEnum, argInt, argList, argPart, argString, checkArgKeys, MAX_PARTS,
} from './args.ts';
export type { Args } from './args.ts';
export { base64Parts, PartAssembler, storePutLines } from './parts.ts';
export type { PartResult, StoreKind } from './parts.ts';
export {
  checkConnectResult, checkErrReply, checkEvent, checkHello, checkReply, hasEventSchema, hasReplySchema, SchemaError,
  UnsupportedProtoError,
} from './schemas.ts';
export type {
  BootEvent, ConnectError, ConnectResult, EmptyReply, ErrReply, Events, HeapReleaseReply, HeapReserveReply, HeapStats, HeapUse,
  HelloReply, MqttDisconnectedEvent, MqttMessageEvent, PublishReply, Replies, Source, StoreDelReply, StoreListReply,
  HostMeasure, StackUse, StoreReply, SubscribeReply, TimeReply, Timing, TlsInfo,
} from './schemas.ts';
export { BADCERT, BADCRL, flagNames, flagsOf, verifyInfo, verifyInfoText } from './verify-flags.ts';
