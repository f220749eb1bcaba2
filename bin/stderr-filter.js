// Dawn (the WebGPU implementation) prints warnings from C++ straight to file descriptor 2, where
// nothing in JavaScript can catch them. bin/arch.js runs device commands in a child process and
// passes the child's stderr through this filter. Plain JavaScript, so that the parent process
// loads nothing else; `isDawnNoise` must match the one in src/runtime/device.ts (a test checks).
import { StringDecoder } from 'node:string_decoder';

export function isDawnNoise(line) {
  return /^Warning: /.test(line) || /^\s+at operator\(\) \(.*third_party\/dawn\//.test(line);
}

/** Could this start of a line still turn out to be noise? Then it is held until its newline. */
function couldBeNoise(partial) {
  return 'Warning: '.startsWith(partial) || partial.startsWith('Warning: ') || /^\s+(a(t( .*)?)?)?$/.test(partial) || /^\s+at operator\(\)/.test(partial);
}

/**
 * A line filter over a byte stream: complete lines that are noise are dropped, everything else is
 * written as soon as it arrives. A partial line is held only while it could still be noise, so
 * progress bars redrawn with '\r' (no newline) stay live.
 */
export function createLineFilter(write, isNoise = isDawnNoise) {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let passing = false;
  const push = (text) => {
    let s = text;
    while (s.length > 0) {
      const nl = s.indexOf('\n');
      const seg = nl < 0 ? s : s.slice(0, nl + 1);
      s = nl < 0 ? '' : s.slice(nl + 1);
      if (passing) {
        write(seg);
        if (nl >= 0) passing = false;
        continue;
      }
      pending += seg;
      if (nl >= 0) {
        if (!isNoise(pending.slice(0, -1))) write(pending);
        pending = '';
      } else if (!couldBeNoise(pending)) {
        write(pending);
        pending = '';
        passing = true;
      }
    }
  };
  return {
    write: (chunk) => push(typeof chunk === 'string' ? chunk : decoder.write(chunk)),
    end() {
      push(decoder.end());
      if (pending !== '' && !isNoise(pending)) write(pending);
      pending = '';
    },
  };
}
