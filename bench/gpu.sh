#!/bin/bash
# The GPU figures the speed issue asks for, in one command for a lent device machine (its time is
# counted from its start, so everything runs in one call): the adapter, `npm run bench` (quick or
# not), the speed config's step profiled with each kernel variant, GPT-2 small training at
# B = 8, L = 1024 with the gpu variant, and sampling from what it trained after a long prompt
# (the prompt filled in one pass, runtime/sample/prefill.ts) with the KV cache and without. The
# limits add up to under the device's 600 s a command. Every part has its own time limit and
# writes to $OUT (what comes back from the device), so a part that fails or runs out of time
# loses only itself.
#
#   OUT=/somewhere bash bench/gpu.sh            # on the device, after ../shared/gpu/README.md's set-up
#   OUT=/tmp/g QUICK=1 bash bench/gpu.sh        # here, on llvmpipe: the same commands, small sizes
#
# The figures go to docs/benchmarks.md with the adapter's name, the commit and the date.
set -u
cd "$(dirname "$0")/.."
out=${OUT:?set OUT to the directory the figures go to}
mkdir -p "$out"
quick=${QUICK:-}
part() { # part NAME SECONDS COMMAND...: runs it with a limit, its output to $out/NAME.txt
  local name=$1 limit=$2
  shift 2
  local command="$*"
  echo "== $name ($(date -u +%H:%M:%S), limit ${limit}s): ${command:0:300}" | tee -a "$out/summary.txt"
  local start=$SECONDS
  timeout "$limit" "$@" > "$out/$name.txt" 2>&1
  local rc=$?
  echo "   exit $rc after $((SECONDS - start)) s" | tee -a "$out/summary.txt"
  tail -n 3 "$out/$name.txt" | sed 's/^/   /' | tee -a "$out/summary.txt"
}
git rev-parse --short HEAD > "$out/commit.txt" 2>/dev/null || true
part info 30 node bin/arch.js info
part bench 180 node scripts/quiet.js dist/bench/run.js ${quick:+--quick} --out "$out/bench.json"
for k in gpu cpu; do
  part "profile-$k" 80 node bin/arch.js profile models/gpt-nano.arch --set D=128 --set N=4 --kernels "$k" --repeats 3 --top 15
done
# quick (llvmpipe): a small GPT-2 on the cpu kernels (the gpu ones loop past llvmpipe's 65535
# iterations over GPT-2's vocabulary), a prompt within its L = 64
if [ -n "$quick" ]; then
  size=(--set L=64 --set N=1 --set D=64 --set H=2 --batch 2 --steps 2) kernels=cpu chars=160
else
  size=(--batch 8 --steps 6) kernels=gpu chars=2800
fi
rm -rf "$out/gpt2"
part gpt2-train 150 node bin/arch.js train models/gpt2.arch --data data/tinyshakespeare.txt --tokenizer gpt2 "${size[@]}" --eval-every 0 --kernels "$kernels" --out "$out/gpt2"
# ~40 tokens quick, ~700 on the device; the gpu kernels fill the prompt's cache in one pass
prompt=$(head -c "$chars" data/tinyshakespeare.txt)
part gpt2-sample 60 node bin/arch.js sample models/gpt2.arch --weights "$out/gpt2/checkpoint.safetensors" --prompt "$prompt" --tokens 32 --kernels gpu --check-cache --json
rm -f "$out/gpt2"/*.safetensors # 500 MB of weights need not come back
