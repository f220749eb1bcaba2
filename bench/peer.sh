#!/bin/bash
# Side by side with the PyTorch CPU peer (../shared/peers/gpt_torch.py; PYTHON=a python with torch,
# PEER=its path): the speed config trained 30 steps and sampled 256 tokens (past the context), then
# 60 tokens within the context, three rounds interleaved. The peer times sampling after a warm-up:
# arch's like-for-like figure within the context is `warm` (bench/sampling-child.ts, after its
# own warm-up); `arch sample`'s figures include its start. Needs `npm run build` first.
cd "$(dirname "$0")/.."
for round in 1 2 3; do
  echo "round $round $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
  OMP_WAIT_POLICY=PASSIVE "${PYTHON:-python3}" "${PEER:-../shared/peers/gpt_torch.py}" --steps 30 --sample-tokens 256 2>&1 | grep -E "train tokens/s|kv-cache|no cache" | cut -f2-4
  rm -rf "${TMPDIR:-/tmp}/arch-peer-run"
  node bin/arch.js train models/gpt-nano.arch --data data/tinyshakespeare.txt --set D=128 --set N=4 --batch 8 --steps 30 --eval-every 0 --out "${TMPDIR:-/tmp}/arch-peer-run" 2>&1 | grep -o "[0-9]* tokens/s" | tail -1 | sed 's/^/arch train /'
  # the default (exact sliding window: KV cache within the context, a full pass a token past it),
  # the window refilled with its last half as the peer's KV cache does, and no cache at all
  for c in "" "--window refill" "--no-cache"; do
    node bin/arch.js sample models/gpt-nano.arch --weights "${TMPDIR:-/tmp}/arch-peer-run"/checkpoint.safetensors --tokens 256 --json $c 2>/dev/null | python3 -c "import json,sys; print('arch sample ${c:-kv-cache}', round(json.load(sys.stdin)['tokens_per_s'],1))"
  done
  # within the context: 60 tokens from one
  OMP_WAIT_POLICY=PASSIVE "${PYTHON:-python3}" "${PEER:-../shared/peers/gpt_torch.py}" --steps 8 --sample-tokens 60 2>&1 | grep -E "kv-cache" | cut -f2-4 | sed 's/$/ (60 tokens)/'
  node bin/arch.js sample models/gpt-nano.arch --weights "${TMPDIR:-/tmp}/arch-peer-run"/checkpoint.safetensors --tokens 60 --json 2>/dev/null | python3 -c "import json,sys; print('arch sample kv-cache (60 tokens)', round(json.load(sys.stdin)['tokens_per_s'],1))"
  node dist/bench/sampling-child.js 63 latency 2>/dev/null | python3 -c "import json,sys; print('arch warm kv-cache (63 tokens)', round(json.load(sys.stdin)['tokensPerS'],1))"
done
