// Vitest reporter: after the run, one line per lane and a closing total ("N passed, N failed"),
// so the two lanes' counts are visible side by side.
export default class LaneSummaryReporter {
  onTestRunEnd(testModules) {
    const lanes = new Map();
    for (const mod of testModules) {
      const lane = mod.project.name;
      const c = lanes.get(lane) ?? { passed: 0, failed: 0, skipped: 0 };
      for (const t of mod.children.allTests()) {
        const s = t.result().state;
        if (s === 'passed') c.passed++;
        else if (s === 'failed') c.failed++;
        else c.skipped++;
      }
      if (mod.state() === 'failed' && [...mod.children.allTests()].length === 0) c.failed++;
      lanes.set(lane, c);
    }
    let p = 0, f = 0, s = 0;
    console.log('');
    for (const [lane, c] of [...lanes].sort()) {
      console.log(`lane ${lane}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`);
      p += c.passed; f += c.failed; s += c.skipped;
    }
    console.log(`${p} passed, ${f} failed, ${s} skipped`);
  }
}
