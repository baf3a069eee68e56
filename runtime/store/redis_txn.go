package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// txnScript runs a Txn: it checks the conditions, then checks that every op
// fits the kind its key has (or will have after earlier ops), and only then
// writes. Redis does not roll a script back when a command fails half-way,
// so all failures must be found before the first write.
//
// ARGV: ncond, (kind keyindex value)*, nops, then per op its kind, its key
// index (or channel for publish) and its arguments:
//
//	s value ttl-ms (-1 keep, 0 none) | d | i delta ttl-ms | h n f v... |
//	x value | r n id... | p payload
//
// Reply: {1, result per op} when applied, {0} when a condition failed.
var txnScript = redis.NewScript(`
local a = 1
local function arg() local v = ARGV[a]; a = a + 1; return v end
local function kind(k) return redis.call('TYPE', k)['ok'] end

local nc = tonumber(arg())
for i = 1, nc do
  local c, k, v = arg(), KEYS[tonumber(arg())], arg()
  if c == 'a' then
    if redis.call('EXISTS', k) == 1 then return {0} end
  elseif c == 'e' then
    if redis.call('EXISTS', k) == 0 then return {0} end
  else
    if kind(k) ~= 'string' or redis.call('GET', k) ~= v then return {0} end
  end
end

local ops = {}
local no = tonumber(arg())
for i = 1, no do
  local op = {k = arg()}
  op.key = arg()
  if op.k ~= 'p' then op.key = KEYS[tonumber(op.key)] end
  if op.k == 's' then op.v = arg(); op.ttl = tonumber(arg())
  elseif op.k == 'i' then op.v = arg(); op.ttl = tonumber(arg())
  elseif op.k == 'h' or op.k == 'r' then
    local n = tonumber(arg()); if op.k == 'h' then n = 2 * n end
    op.list = {}
    for j = 1, n do op.list[j] = arg() end
  elseif op.k == 'x' or op.k == 'p' then op.v = arg()
  end
  ops[i] = op
end

local staged = {}
local function current(k)
  if staged[k] == nil then staged[k] = {t = kind(k)} end
  return staged[k]
end
local function wrong(op) return redis.error_reply('WRONGTYPE Operation against a key holding the wrong kind of value: ' .. op.key) end
for _, op in ipairs(ops) do
  if op.k == 's' then staged[op.key] = {t = 'string', int = string.match(op.v, '^%-?%d+$') ~= nil and #op.v <= 20}
  elseif op.k == 'd' then staged[op.key] = {t = 'none'}
  elseif op.k == 'i' then
    local s = current(op.key)
    if s.t == 'string' and s.int == nil then
      local v = redis.call('GET', op.key)
      s.int = string.match(v, '^%-?%d+$') ~= nil and #v <= 20
    end
    if s.t ~= 'none' and (s.t ~= 'string' or not s.int) then return wrong(op) end
    staged[op.key] = {t = 'string', int = true}
  elseif op.k == 'h' then
    local s = current(op.key)
    if s.t ~= 'none' and s.t ~= 'hash' then return wrong(op) end
    s.t = 'hash'
  elseif op.k == 'x' or op.k == 'r' then
    local s = current(op.key)
    if s.t ~= 'none' and s.t ~= 'stream' then return wrong(op) end
    if op.k == 'x' then s.t = 'stream' end
  end
end

local function chunked(cmd, key, list, prefix)
  local n = 0
  for j = 1, #list, 1000 do
    local args = {}
    for m = j, math.min(j + 999, #list) do args[#args + 1] = list[m] end
    if prefix then table.insert(args, 1, prefix) end
    n = n + redis.call(cmd, key, unpack(args))
  end
  return n
end

local res = {1}
for i, op in ipairs(ops) do
  local r = 0
  if op.k == 's' then
    if op.ttl > 0 then redis.call('SET', op.key, op.v, 'PX', op.ttl)
    elseif op.ttl < 0 then redis.call('SET', op.key, op.v, 'KEEPTTL')
    else redis.call('SET', op.key, op.v) end
  elseif op.k == 'd' then r = redis.call('DEL', op.key)
  elseif op.k == 'i' then
    local existed = redis.call('EXISTS', op.key)
    redis.call('INCRBY', op.key, op.v)
    if existed == 0 and op.ttl > 0 then redis.call('PEXPIRE', op.key, op.ttl) end
    r = redis.call('GET', op.key)
  elseif op.k == 'h' then chunked('HSET', op.key, op.list)
  elseif op.k == 'x' then r = redis.call('XADD', op.key, '*', 'v', op.v)
  elseif op.k == 'r' then r = chunked('XDEL', op.key, op.list)
  elseif op.k == 'p' then redis.call('PUBLISH', op.key, op.v)
  end
  res[i + 1] = r
end
return res`)

// encodeTxn turns txn into the script's keys and arguments.
func (r *Redis) encodeTxn(txn Txn) ([]string, []any, error) {
	if err := txn.validate(); err != nil {
		return nil, nil, err
	}
	keys := txn.keys()
	index := make(map[string]int, len(keys))
	full := make([]string, len(keys))
	for i, k := range keys {
		index[k] = i + 1
		full[i] = r.key(k)
	}
	// Checked on a single node too, so that code that works there also
	// works on a cluster.
	for _, k := range full[min(1, len(full)):] {
		if hashSlot(k) != hashSlot(full[0]) {
			return nil, nil, fmt.Errorf("redis atomic on %q and %q: %w", full[0], k, ErrCrossSlot)
		}
	}
	args := make([]any, 0, 2+3*len(txn.Conds)+4*len(txn.Ops))
	args = append(args, len(txn.Conds))
	for _, c := range txn.Conds {
		code := map[condKind]string{condAbsent: "a", condExists: "e", condEquals: "q"}[c.kind]
		args = append(args, code, index[c.key], c.value)
	}
	args = append(args, len(txn.Ops))
	for _, o := range txn.Ops {
		switch o.kind {
		case opSet:
			args = append(args, "s", index[o.key], o.value, ttlMillis(o.ttl))
		case opDelete:
			args = append(args, "d", index[o.key])
		case opIncr:
			args = append(args, "i", index[o.key], o.delta, ttlMillis(o.ttl))
		case opHSet:
			args = append(args, "h", index[o.key], len(o.fields))
			for f, v := range o.fields {
				args = append(args, f, v)
			}
		case opAppend:
			args = append(args, "x", index[o.key], o.value)
		case opRemove:
			args = append(args, "r", index[o.key], len(o.ids))
			for _, id := range o.ids {
				args = append(args, id.String())
			}
		case opPublish:
			args = append(args, "p", r.key(o.key), o.value)
		}
	}
	return full, args, nil
}

func decodeTxnReply(txn Txn, reply []any) (TxnResult, error) {
	if len(reply) == 0 {
		return TxnResult{}, fmt.Errorf("redis atomic: empty reply: %w", ErrUnavailable)
	}
	if applied, _ := reply[0].(int64); applied != 1 {
		return TxnResult{}, nil
	}
	if len(reply) != len(txn.Ops)+1 {
		return TxnResult{}, fmt.Errorf("redis atomic: %d results for %d ops: %w", len(reply)-1, len(txn.Ops), ErrUnavailable)
	}
	res := TxnResult{Applied: true, Results: make([]OpResult, len(txn.Ops))}
	for i, o := range txn.Ops {
		v := reply[i+1]
		switch o.kind {
		case opAppend:
			s, _ := v.(string)
			id, err := ParseID(s)
			if err != nil {
				return TxnResult{}, fmt.Errorf("redis atomic: %w", err)
			}
			res.Results[i].ID = id
		case opIncr:
			s, _ := v.(string)
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return TxnResult{}, fmt.Errorf("redis atomic: counter %q: %w", s, ErrUnavailable)
			}
			res.Results[i].N = n
		case opDelete, opRemove:
			res.Results[i].N, _ = v.(int64)
		}
	}
	return res, nil
}

// Atomic implements Store with one Lua script. On a cluster every key of txn
// must share a hash slot: give them one hash tag ("dlq:{payments}:...").
func (r *Redis) Atomic(ctx context.Context, txn Txn) (TxnResult, error) {
	keys, args, err := r.encodeTxn(txn)
	if err != nil {
		return TxnResult{}, err
	}
	reply, err := one(ctx, r, func(c redis.Cmdable) *redis.Cmd { return txnScript.Run(ctx, c, keys, args...) }).Slice()
	if err != nil {
		return TxnResult{}, r.fail(ctx, "atomic", err)
	}
	return decodeTxnReply(txn, reply)
}

// AtomicBatch runs several independent txns in one pipelined round trip (per
// node on a cluster) and returns a result and an error per txn. Each txn is
// atomic on its own; the batch is not. Failover replays its journal with it.
//
// A txn that got NOSCRIPT (a restarted or new node that does not know the
// script yet) did not run: once the script is loaded, only those txns are
// sent again. The others ran, or failed for a reason of their own, and
// sending them again would apply them twice (another client may load the
// script while this batch is on its way, so that a batch half succeeds).
func (r *Redis) AtomicBatch(ctx context.Context, txns []Txn) ([]TxnResult, []error) {
	results := make([]TxnResult, len(txns))
	errs := make([]error, len(txns))
	cmds := make([]*redis.Cmd, len(txns))
	send := func(which []int) {
		_, _ = r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, i := range which {
				keys, args, err := r.encodeTxn(txns[i])
				if err != nil {
					errs[i] = err
					continue
				}
				cmds[i] = txnScript.EvalSha(ctx, p, keys, args...)
			}
			return nil
		})
	}
	all := make([]int, len(txns))
	for i := range all {
		all[i] = i
	}
	send(all)
	var again []int
	for i, c := range cmds {
		if c != nil && isNoScript(c.Err()) {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		// Loaded on every master of a cluster.
		if err := txnScript.Load(ctx, r.client).Err(); err == nil {
			send(again)
		}
	}
	for i, c := range cmds {
		if c == nil {
			continue
		}
		reply, err := c.Slice()
		if err != nil {
			errs[i] = r.fail(ctx, "atomic batch", err)
			continue
		}
		results[i], errs[i] = decodeTxnReply(txns[i], reply)
	}
	return results, errs
}

func isNoScript(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT")
}

// hashSlot is the Redis Cluster slot of key: CRC16 of its hash tag (the part
// between the first "{" and the next "}", if not empty) or of the whole key.
func hashSlot(key string) uint16 {
	if s := strings.IndexByte(key, '{'); s >= 0 {
		if e := strings.IndexByte(key[s+1:], '}'); e > 0 {
			key = key[s+1 : s+1+e]
		}
	}
	return crc16(key) % 16384
}

// crc16 is CRC-16/XMODEM, the checksum Redis Cluster hashes keys with.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
