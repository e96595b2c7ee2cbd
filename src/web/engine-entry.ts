// The entry of the browser bundle that `shadowvisor web` embeds in its page (scripts/build.mjs
// bundles it as an IIFE for the browser platform): the engine's swap cell, the page's driver and
// the worker loop, published on globalThis.shadowvisorWeb for the page's worker to call.

import { jitAvailable, setJitDefault } from '../cpu/jit/compile.js';
import { nullLogger } from '../obs/log.js';
import { SwapCellRun, parseIntegrity, runSwapCell } from '../sim/swap-cell.js';
import { SERIES_FIELDS, WEB_DEFAULTS, WEB_MODES, WebCell, checkParams, classifyOutcome, hostBytesOf, verdictOf, webCellSpec } from './web-cell.js';
import { CHUNK_STEPS, serveWorker } from './worker.js';

const api = {
  SwapCellRun,
  runSwapCell,
  parseIntegrity,
  nullLogger,
  WebCell,
  WEB_DEFAULTS,
  WEB_MODES,
  SERIES_FIELDS,
  CHUNK_STEPS,
  checkParams,
  hostBytesOf,
  webCellSpec,
  classifyOutcome,
  verdictOf,
  serveWorker,
};

export type ShadowvisorWeb = typeof api;

(globalThis as unknown as { shadowvisorWeb: ShadowvisorWeb }).shadowvisorWeb = api;

// Guest code is compiled (to WebAssembly where the context allows it, else to JavaScript) where
// this context may use new Function (a page's Content-Security-Policy can forbid it); otherwise
// the interpreter runs it. Results are the same.
setJitDefault(jitAvailable());
