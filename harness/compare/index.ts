export { compareRuns, counterparts, type CompareOptions } from './compare.ts';
export { applyRelativeBudgets, judgeAgainstBaseline, type Baseline } from './budgets.ts';
export { loadResults, MAX_RESULTS_BYTES } from './load.ts';
export { FEW_REPETITIONS, mad, NOISE, noiseBand, type NoiseRule } from './noise.ts';
export { comparisonText } from './text.ts';
