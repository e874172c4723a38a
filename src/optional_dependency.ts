// Node's optional dependencies (webgpu, sharp): imported when first needed, with an error that names
// the package when it was not installed (a browser app may install with --omit=optional).

/** An optional dependency the Node entry imports when first needed, with an error naming it when missing. */
export async function importOptional<T>(name: string, load: () => Promise<T>, forWhat: string): Promise<T> {
  try {
    return await load();
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes(`'${name}'`)) {
      throw new MissingDependencyError(
        `dinov2-webgpu needs the package ${name} for ${forWhat} in Node; it is an optional dependency that was not installed (npm install ${name})`,
      );
    }
    throw e;
  }
}

export class MissingDependencyError extends Error {
  override name = 'MissingDependencyError';
}
