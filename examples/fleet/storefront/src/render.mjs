// Display formatting for product listings.

const SYMBOLS = { USD: '$', EUR: '€', GBP: '£' };

// formatPrice(12.5) === '$12.50'
export function formatPrice(amount, currency = 'USD') {
  const symbol = SYMBOLS[currency] ?? `${currency} `;
  return `${symbol}${amount.toFixed(2)}`;
}

// One line per product: the name, padded, then the display amount, right-aligned.
export function renderProductList(products) {
  if (products.length === 0) {
    return 'No products available.\n';
  }
  const rows = products.map((p) => [p.name, formatPrice(p.price, p.currency)]);
  const nameWidth = Math.max(...rows.map(([name]) => name.length));
  const labelWidth = Math.max(...rows.map(([, label]) => label.length));
  return rows.map(([name, label]) => `${name.padEnd(nameWidth)}  ${label.padStart(labelWidth)}\n`).join('');
}
