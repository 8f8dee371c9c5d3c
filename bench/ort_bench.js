// ort_bench.js — times one ONNX model with ONNX Runtime's CPU provider (onnxruntime-node).
// usage: node ort_bench.js MODEL.onnx C H W THREADS WARMUP RUNS  -> one JSON line on stdout
const ort = require('onnxruntime-node');

async function main() {
  const [model, c, h, w, threads, warmup, runs] = process.argv.slice(2);
  const n = Number(threads);
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'], intraOpNumThreads: n, interOpNumThreads: 1,
    graphOptimizationLevel: 'all', executionMode: 'sequential',
  });
  const dims = [1, Number(c), Number(h), Number(w)];
  const data = new Float32Array(dims.reduce((a, b) => a * b));
  for (let i = 0; i < data.length; ++i) data[i] = Math.random() * 2 - 1;
  const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', data, dims)};
  for (let i = 0; i < Number(warmup); ++i) await session.run(feeds);
  const times = [];
  for (let i = 0; i < Number(runs); ++i) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  const rss = process.resourceUsage().maxRSS / 1024;  // KiB -> MiB
  console.log(JSON.stringify({engine: 'onnxruntime', version: require('onnxruntime-node/package.json').version,
                              median_ms: times[Math.floor(times.length / 2)], min_ms: times[0],
                              max_ms: times[times.length - 1], peak_rss_mb: rss}));
}
main().catch((e) => { console.error(String(e)); process.exit(1); });
