// Imported first by tests of modules that touch `window` when loaded (the API client).
(globalThis as unknown as { window: typeof globalThis }).window = globalThis;
