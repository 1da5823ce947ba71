/**
 * V8 options the single executable starts with (the SEA config's `execArgv`), so the agent
 * customers run behaves like the one the benchmark measures.
 *
 * A small young generation: a sweep allocates sockets, timers and records that die within
 * one probe, and with V8's default 16 MB semi-spaces that garbage alone kept a /16 sweep
 * near 125 MB of RSS on Node 22. 4 MB semi-spaces bring it under 100 MB with no
 * measurable cost in handshakes per second (more, cheaper scavenges).
 *
 * A fixed process title: without one, Node asks Windows for the console title at start-up,
 * and in a service child whose hidden console has no title (seen under Wine 8)
 * GetConsoleTitleW returns nothing and libuv aborts (`Assertion failed: process_title`).
 */
export const AGENT_RUNTIME_FLAGS: readonly string[] = [
  '--max-semi-space-size=4',
  '--title=certagent',
];
