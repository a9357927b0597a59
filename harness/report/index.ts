export { median, p95, RESULTS_SCHEMA, totalsOf } from './model.ts';
export type { AttemptRecord, Budget, Failure, FailureKind, FirmwareIdentity, ImageIdentity, Metric, Outcome, RunResults, ScenarioResult, Source } from './model.ts';
export { toJUnitXml } from './junit.ts';
export { toSummaryMarkdown } from './summary.ts';
export { toReportHtml } from './html.ts';
export { securityFindings } from './findings.ts';
export type { Finding } from './findings.ts';
export { LATEST, newRunId, prepareRunDir, REPORT_FILES, REPORT_IO_MS, ReportWriteError, toResultsJson, writeReports } from './write.ts';
export type { ReportPaths } from './write.ts';
