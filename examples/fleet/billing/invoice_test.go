package billing

import (
	"errors"
	"reflect"
	"testing"
)

func TestNewInvoice(t *testing.T) {
	catalog := loadCatalog(t)
	items := []LineItem{
		{ProductID: "sku-1001", Quantity: 2},
		{ProductID: "sku-1004", Quantity: 3},
		{ProductID: "sku-1002", Quantity: 1},
	}
	inv, err := NewInvoice(catalog, items, 825) // 8.25% sales tax
	if err != nil {
		t.Fatal(err)
	}
	want := Invoice{
		Lines: []Line{
			{ProductID: "sku-1001", Name: "Ceramic Pour-Over Dripper", Quantity: 2, UnitPrice: 12.5, Amount: 25},
			{ProductID: "sku-1004", Name: "Paper Filters (100 pack)", Quantity: 3, UnitPrice: 4.75, Amount: 14.25},
			{ProductID: "sku-1002", Name: "Gooseneck Kettle", Quantity: 1, UnitPrice: 39.99, Amount: 39.99},
		},
		Subtotal: 79.24,
		Tax:      6.54, // 8.25% of the subtotal, rounded half up to the cent
		Total:    85.78,
	}
	if !reflect.DeepEqual(inv, want) {
		t.Errorf("NewInvoice() =\n  %+v\nwant\n  %+v", inv, want)
	}
}

func TestNewInvoiceWithoutTax(t *testing.T) {
	inv, err := NewInvoice(loadCatalog(t), []LineItem{{ProductID: "sku-1003", Quantity: 1}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := Invoice{
		Lines:    []Line{{ProductID: "sku-1003", Name: "Burr Coffee Grinder", Quantity: 1, UnitPrice: 89, Amount: 89}},
		Subtotal: 89,
		Tax:      0,
		Total:    89,
	}
	if !reflect.DeepEqual(inv, want) {
		t.Errorf("NewInvoice() =\n  %+v\nwant\n  %+v", inv, want)
	}
}

func TestNewInvoiceErrors(t *testing.T) {
	catalog := loadCatalog(t)
	if _, err := NewInvoice(catalog, []LineItem{{ProductID: "sku-0000", Quantity: 1}}, 825); !errors.Is(err, ErrUnknownProduct) {
		t.Errorf("unknown product: err = %v, want ErrUnknownProduct", err)
	}
	if _, err := NewInvoice(catalog, []LineItem{{ProductID: "sku-1001", Quantity: 0}}, 825); err == nil {
		t.Error("zero quantity: want an error")
	}
	if _, err := NewInvoice(catalog, nil, -1); err == nil {
		t.Error("negative tax rate: want an error")
	}
}
