/** Runs of one case summed up as the bench reports them: median, min–max, peak RSS, CPU. */
import { median, type Measurement } from './measure.js';

export interface Series {
  medianMs: number;
  minMs: number;
  maxMs: number;
  peakRssMb: number;
  runs: number;
  /** Median CPU time of the process, all threads (null if it was not reported). */
  cpuMs: number | null;
  /** Median CPU time the database server spent meanwhile (a MariaDB on this machine; null otherwise). */
  serverCpuMs: number | null;
}

const medianOf = (values: Array<number | null>): number | null =>
  values.every((v) => v !== null) && values.length > 0 ? Math.round(median(values as number[])) : null;

export const series = (ms: Measurement[]): Series => ({
  medianMs: Math.round(median(ms.map((m) => m.ms))),
  minMs: Math.round(Math.min(...ms.map((m) => m.ms))),
  maxMs: Math.round(Math.max(...ms.map((m) => m.ms))),
  peakRssMb: Math.round(Math.max(...ms.map((m) => m.peakRssMb))),
  runs: ms.length,
  cpuMs: medianOf(ms.map((m) => m.cpuMs)),
  serverCpuMs: medianOf(ms.map((m) => m.serverCpuMs)),
});

/** `3150 ms (3140–3470), 335 MB` */
export const formatSeries = (s: Series) => `${s.medianMs} ms (${s.minMs}–${s.maxMs}), ${s.peakRssMb} MB`;
