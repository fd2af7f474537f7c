// The GPU memory budget of the next load (`Engine.load`'s `gpuBudget`): empty for every expert on
// the GPU, or a size in MiB or GiB. A budget smaller than the model's experts makes the engine keep
// some of the experts on the GPU (in slots the layers share) and stream the others in as the router
// picks them.

export class BudgetField {
  /**
   * @param {object} elements
   * @param {HTMLInputElement} elements.amount  a number; empty means no budget
   * @param {HTMLSelectElement} elements.unit   bytes per unit as each option's value
   */
  constructor({ amount, unit }) {
    this.amount = amount;
    this.unit = unit;
  }

  /**
   * The budget in bytes, `undefined` for every expert on the GPU, or null after pointing the user
   * at an invalid value.
   * @returns {number|undefined|null}
   */
  read() {
    if (!this.amount.reportValidity()) return null;
    const text = this.amount.value.trim();
    if (text === '') return undefined;
    return Math.round(Number(text) * Number(this.unit.value));
  }

  /** Words for a budget, as the load status shows it. */
  static describe(bytes) {
    return bytes === undefined ? 'every expert on the GPU' : `a GPU budget of ${formatAmount(bytes)}`;
  }
}

/** `3.5 × 2^20` → "3.5 MiB"; whole numbers without decimals. */
function formatAmount(bytes) {
  const [value, unit] = bytes >= 2 ** 30 ? [bytes / 2 ** 30, 'GiB'] : [bytes / 2 ** 20, 'MiB'];
  return `${Number(value.toFixed(2))} ${unit}`;
}
