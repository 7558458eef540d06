// Peer driver: the official TypeScript MCP SDK (@modelcontextprotocol/sdk)
// over its Streamable HTTP client transport.
//
//   node bench/peers/ts_sdk.mjs URL MODE N CONC
//
// MODE cold : connect (SDK's default initialize handshake), tools/list, one
//             echo "hi" call, end the session, close. Prints nothing.
// MODE calls: connect, tools/list, 50 warm-up calls, then N echo calls with
//             CONC workers in flight over the one client; prints one JSON line
//             {"calls": N, "wall_s": f, "p50_us": i, "p99_us": i}.
// Any failure: message on stderr, exit code 1.
//
// The SDK is imported from the repository's .peers/ (scripts/install-peers.sh),
// resolved relative to this file so a fresh clone works.

const SDK = new URL('../../.peers/npm/node_modules/@modelcontextprotocol/sdk/dist/esm/', import.meta.url);

function die(msg) {
    process.stderr.write(`ts_sdk: ${msg}\n`);
    process.exit(1);
}

const [url, mode, nArg, concArg] = process.argv.slice(2);
if (!url || (mode !== 'cold' && mode !== 'calls')) {
    die('usage: node ts_sdk.mjs URL cold|calls N CONC');
}
const N = Number.parseInt(nArg ?? '1', 10);
const CONC = Number.parseInt(concArg ?? '1', 10);
if (!(N > 0) || !(CONC > 0)) die(`bad N/CONC: ${nArg} ${concArg}`);

// Under concurrency Node's fetch (undici) piles one 'abort' listener per
// request onto the transport's single AbortSignal until GC reclaims them, and
// Node prints a MaxListenersExceededWarning for each one past 1500: thousands
// of stderr lines. Drop just that warning (it is built either way, so timing is
// unaffected); every other warning still prints.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = (w, ...rest) => {
    const name = typeof w === 'object' && w !== null ? w.name : rest[0]?.type ?? rest[0];
    if (name === 'MaxListenersExceededWarning') return;
    emitWarning(w, ...rest);
};

const { Client } = await import(new URL('client/index.js', SDK).href);
const { StreamableHTTPClientTransport } = await import(new URL('client/streamableHttp.js', SDK).href);

async function echo(client) {
    const res = await client.callTool({ name: 'echo', arguments: { message: 'hi' } });
    const text = res?.content?.[0]?.text;
    if (res?.isError || text !== 'hi') {
        throw new Error(`unexpected echo result: ${JSON.stringify(res)}`);
    }
}

function percentile(sorted, p) {
    // nearest-rank
    const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[idx];
}

async function main() {
    const transport = new StreamableHTTPClientTransport(new URL(url));
    const client = new Client({ name: 'mcpkey-bench-ts-sdk', version: '1.0.0' });
    await client.connect(transport);
    if (process.env.PEER_DEBUG) {
        process.stderr.write(
            `ts_sdk: protocol ${transport.protocolVersion} session ${transport.sessionId ?? '-'} ` +
                `server ${JSON.stringify(client.getServerVersion())}\n`,
        );
    }

    const tools = await client.listTools();
    if (!tools.tools.some((t) => t.name === 'echo')) throw new Error('server has no echo tool');

    let line = '';
    if (mode === 'cold') {
        await echo(client);
    } else {
        for (let i = 0; i < 50; i++) await echo(client);

        const lat = new Array(N);
        let next = 0;
        const worker = async (count) => {
            for (let k = 0; k < count; k++) {
                const t0 = process.hrtime.bigint();
                await echo(client);
                lat[next++] = Number(process.hrtime.bigint() - t0) / 1000;
            }
        };
        // CONC workers, N/CONC sequential calls each (the first N%CONC take one more).
        const counts = Array.from({ length: CONC }, (_, w) => Math.floor(N / CONC) + (w < N % CONC ? 1 : 0));
        const start = process.hrtime.bigint();
        await Promise.all(counts.map(worker));
        const wall = Number(process.hrtime.bigint() - start) / 1e9;

        lat.sort((a, b) => a - b);
        // Same spacing as Python's json.dumps, so every driver prints the same shape.
        line =
            `{"calls": ${N}, "wall_s": ${wall.toFixed(9)}, ` +
                `"p50_us": ${Math.round(percentile(lat, 50))}, "p99_us": ${Math.round(percentile(lat, 99))}}\n`;
    }

    // A clean end: DELETE the session (where the server gave one), then close.
    await transport.terminateSession();
    await client.close();
    process.stdout.write(line);
}

main().then(
    () => process.exit(0),
    (e) => die(e?.stack ?? String(e)),
);
