// What spends workerd's CPU, by the binary (dso) and symbol of a sample or a function:
// shared by bench/process-profile.mjs (perf) and bench/instructions.mjs (callgrind).

/**
 * What spends the CPU, judged by the sample's binary (dso) and symbol. First match wins;
 * JavaScript is V8's builtins (interpreter, ICs, promises, regexps) and the JIT's code.
 * @type {Array<[string, (dso: string, sym: string) => boolean]>}
 */
export const CATEGORIES = [
  ["kernel (network, scheduling)", (dso) => dso.startsWith("[kernel")],
  [
    "JavaScript: JIT code",
    // perf names it by its map file ([JIT], JS:); callgrind by its address alone.
    (dso, sym) => dso.startsWith("[JIT]") || sym.startsWith("JS:") || /^0x[0-9a-f]+$/.test(sym),
  ],
  ["JavaScript: V8 builtins", (_, sym) => sym.startsWith("Builtins_")],
  [
    "V8 garbage collector and handles",
    (_, sym) =>
      /^(cppgc::|heap::base::)|v8::internal::(Scavenger|Heap|MarkCompact|Marking|Sweeper|MinorMS|ConcurrentMarking|MemoryAllocator|PagedSpace|NewSpace|SemiSpace|IncrementalMarking|GlobalHandles|TracedHandles|ExternalEntityTable|GlobalizeTracedReference|CppHeap)|IsUnscavenged|IsUnmodifiedApiObject|HeapTracer/.test(
        sym,
      ),
  ],
  ["V8 runtime, compiler, other", (_, sym) => /^v8::|^v8_/.test(sym)],
  [
    "memory allocator and copies",
    (dso, sym) =>
      /tcmalloc|TCMalloc|^(malloc|free|calloc|realloc|cfree)$|^operator (new|delete)|^__mem(move|cpy|set|cmp)|^mem(move|cpy|set|cmp)$/.test(
        sym,
      ) ||
      (dso.startsWith("libc") && /^__?mem|^__strlen/.test(sym)),
  ],
  ["workerd: API bindings (jsg)", (_, sym) => sym.startsWith("workerd::jsg")],
  [
    "workerd: Headers",
    (_, sym) => /workerd::api::.*Headers|getHeaderKeyFor|workerd::toLower|strcaseeq/.test(sym),
  ],
  ["workerd: other APIs and I/O context", (_, sym) => sym.startsWith("workerd::")],
  ["KJ: HTTP", (_, sym) => /^kj::.*Http|HttpHeader/.test(sym)],
  [
    "KJ: event loop and promises",
    (_, sym) => /^kj::(_::|EventLoop|TaskSet|Canceler|UnixEventPort)/.test(sym),
  ],
  ["KJ: strings, arrays, other", (_, sym) => sym.startsWith("kj::")],
  ["libc, other", () => true],
];

/**
 * Cost summed per category, every category present (0 when nothing fell in it).
 * @param {Iterable<{ dso: string, sym: string, cost: number }>} items
 * @returns {Map<string, number>}
 */
export function sumByCategory(items) {
  const sums = new Map(CATEGORIES.map(([name]) => [name, 0]));
  for (const { dso, sym, cost } of items) {
    // The last category takes whatever the others did not.
    const name = /** @type {[string, unknown]} */ (CATEGORIES.find(([, test]) => test(dso, sym)))[0];
    sums.set(name, /** @type {number} */ (sums.get(name)) + cost);
  }
  return sums;
}
