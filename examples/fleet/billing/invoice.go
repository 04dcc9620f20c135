package billing

import (
	"errors"
	"fmt"
	"math"
)

// ErrUnknownProduct is returned for a line item whose product is not in the catalog.
var ErrUnknownProduct = errors.New("unknown product")

// LineItem is one row of an order: which product, and how many.
type LineItem struct {
	ProductID string
	Quantity  int
}

// Line is a priced row of an invoice.
type Line struct {
	ProductID string
	Name      string
	Quantity  int
	UnitPrice float64
	Amount    float64
}

// Invoice is a priced order. Amounts are in the catalog's currency.
type Invoice struct {
	Lines    []Line
	Subtotal float64
	Tax      float64
	Total    float64
}

// NewInvoice prices items against catalog. taxBasisPoints is the tax rate in hundredths of a
// percent: 825 means 8.25%. The tax is rounded half up to the cent.
func NewInvoice(catalog []Product, items []LineItem, taxBasisPoints int) (Invoice, error) {
	if taxBasisPoints < 0 {
		return Invoice{}, fmt.Errorf("negative tax rate: %d basis points", taxBasisPoints)
	}
	byID := make(map[string]Product, len(catalog))
	for _, p := range catalog {
		byID[p.ID] = p
	}

	var inv Invoice
	for _, item := range items {
		p, ok := byID[item.ProductID]
		if !ok {
			return Invoice{}, fmt.Errorf("line item %q: %w", item.ProductID, ErrUnknownProduct)
		}
		if item.Quantity <= 0 {
			return Invoice{}, fmt.Errorf("line item %q: quantity must be positive, got %d", item.ProductID, item.Quantity)
		}
		amount := p.Price * float64(item.Quantity)
		inv.Lines = append(inv.Lines, Line{
			ProductID: p.ID,
			Name:      p.Name,
			Quantity:  item.Quantity,
			UnitPrice: p.Price,
			Amount:    amount,
		})
		inv.Subtotal += amount
	}
	inv.Subtotal = roundToCent(inv.Subtotal)
	inv.Tax = roundToCent(inv.Subtotal * float64(taxBasisPoints) / 10000)
	inv.Total = roundToCent(inv.Subtotal + inv.Tax)
	return inv, nil
}

func roundToCent(dollars float64) float64 {
	return math.Round(dollars*100) / 100
}
