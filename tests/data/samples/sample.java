package com.example.billing;

import java.util.ArrayList;
import java.util.List;

/**
 * Something that can be charged.
 */
interface Chargeable {
    long amountCents();
}

/**
 * Collects line items and totals them.
 */
public class Invoice implements Chargeable {
    public static final int MAX_LINES = 200;

    private final List<LineItem> lines = new ArrayList<>();

    /** Create an empty invoice for a customer. */
    public Invoice(String customer) {
        this.customer = customer;
    }

    // Add one line, refusing past the limit.
    public void add(LineItem item) {
        if (lines.size() >= MAX_LINES) {
            throw new IllegalStateException("too many lines");
        }
        lines.add(item);
    }

    @Override
    public long amountCents() {
        return Totals.sum(lines);
    }

    /** A single priced line. */
    public record LineItem(String label, long cents) {}
}
