<?php

namespace App\Billing;

use App\Support\Money;

/**
 * Anything that can be paid.
 */
interface Payable
{
    public function amount(): Money;
}

/**
 * An order with its lines.
 */
class Order extends Model implements Payable
{
    const STATUS_OPEN = 'open';

    private array $lines = [];

    public function __construct(private string $customer)
    {
    }

    // Add a line to the order.
    public function addLine(string $sku, int $cents): void
    {
        $this->lines[] = new Line($sku, $cents);
    }

    /**
     * The sum of every line.
     */
    public function amount(): Money
    {
        return Money::ofCents(total_cents($this->lines));
    }
}

/** Sum the cents of some lines. */
function total_cents(array $lines): int
{
    return array_sum(array_map(fn ($line) => $line->cents, $lines));
}
