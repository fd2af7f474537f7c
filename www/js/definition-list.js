// Figures shown as a <dl>: one <dt> term and one <dd> value per row.

/**
 * Replace the contents of `list` with the rows.
 * @param {HTMLDListElement} list
 * @param {Array<[string, string]>} rows  [term, value] pairs, in order
 */
export function showDefinitions(list, rows) {
  list.replaceChildren(
    ...rows.flatMap(([term, value]) => {
      const dt = document.createElement('dt');
      dt.textContent = term;
      const dd = document.createElement('dd');
      dd.textContent = value;
      return [dt, dd];
    }),
  );
}
