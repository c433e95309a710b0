export {
  AddPredictionStatus,
  LabelJoinStatus,
  OTHER_CLASS,
  OTHER_SEGMENT,
  PendingJoinTable,
  type AddPredictionResult,
  type JoinStats,
  type LabelJoinResult,
  type PendingJoinTableOptions,
} from './pending-table.ts';
export { JoinSnapshotError } from './snapshot-bytes.ts';
