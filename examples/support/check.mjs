// What the examples print to show they worked: one `ok:` line per comparison with its measured
// max |Δ| and the bound it must stay under, or a `FAIL:` line on stderr and a non-zero exit code.

export function check(label, actual, expected, bound) {
  let worst = actual.length === expected.length ? 0 : NaN;
  for (let n = 0; n < expected.length; n++) {
    // Equal values count as 0 (so equal infinities do too); a NaN makes `worst` NaN, which fails below.
    if (actual[n] !== expected[n]) worst = Math.max(worst, Math.abs(actual[n] - expected[n]));
  }
  if (worst < bound) {
    console.log(`ok: ${label}: max |Δ| vs reference ${worst.toExponential(1)} < ${bound.toExponential(0)}`);
  } else {
    console.error(`FAIL: ${label}: max |Δ| vs reference ${worst} is not < ${bound.toExponential(0)}`);
    process.exitCode = 1;
  }
}
