// Fake component factories written the short way, `create` beside the schema; the registry's
// shape (schema eager, implementation behind `load`) is made from that.
import type { Factory } from '../../src/component/types.js';

type WrittenWithCreate<F extends Factory> = Omit<F, 'load'> & Awaited<ReturnType<F['load']>>;

/** A factory whose `load` hands back the `create` it was written with, as an import would. */
export function fakeFactory<F extends Factory>(written: WrittenWithCreate<F>): F {
  const { create, ...descriptor } = written as WrittenWithCreate<F> & { create: unknown };
  return { ...descriptor, load: async () => ({ create }) } as unknown as F;
}
