// H4 scratch: SIGUSR2 starts the CPU profiler, the next SIGUSR2 writes it to $H4_PROF_DIR.
const inspector = require('node:inspector');
const fs = require('node:fs');
const path = require('node:path');
let session;
process.on('SIGUSR2', () => {
  if (!session) {
    session = new inspector.Session();
    session.connect();
    session.post('Profiler.enable');
    session.post('Profiler.setSamplingInterval', { interval: 200 });
    session.post('Profiler.start');
    return;
  }
  session.post('Profiler.stop', (err, r) => {
    if (!err) fs.writeFileSync(path.join(process.env.H4_PROF_DIR, `p-${process.pid}.cpuprofile`), JSON.stringify(r.profile));
    session.disconnect();
    session = undefined;
  });
});
