// Two helpers for the notebooks: showing a figure reliably, and turning a printed check into one that
// fails the cell (so that `npm run notebooks` fails when an identity stops holding).

/**
 * Displays a rich object (`Deno.jupyter.image(png)`, `Deno.jupyter.html\`…\``) in the notebook, then waits
 * 100 ms. The pause is for Deno's kernel (2.x): it can report a cell done before a large display
 * message has gone out, and a headless run (nbconvert) then drops that output; the pause lets it go
 * first. scripts/notebooks.sh also checks that every cell calling `show(` kept its output.
 */
export async function show(obj: unknown): Promise<void> {
  await Deno.jupyter.display(obj);
  await new Promise((resolve) => setTimeout(resolve, 100));
}

/** Throws unless |a - b| ≤ tol · max(1, |b|): a cell that checks an identity fails when it does not hold. */
export function expectClose(what: string, a: number, b: number, tol: number): void {
  if (!(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)))) {
    throw new Error(`${what}: ${a} and ${b} differ by ${Math.abs(a - b)}, more than the tolerance ${tol}`);
  }
}

/** Throws with `message` unless `condition` holds. */
export function expect(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}
