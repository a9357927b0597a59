export function registerBroker(_p: unknown): void {}
