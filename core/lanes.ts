/**
 * At most `width` of `items` in flight at once, each started as soon as a lane frees up, in input
 * order; the results come back in input order. Pure, so workflows can use it deterministically.
 */
export async function inLanes<T, R>(
  items: readonly T[],
  width: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) results[i] = await work(items[i] as T, i);
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, width), items.length) }, lane));
  return results;
}
