// A small list widget.

import React, { useState } from "react";

/** Props of the item list. */
interface ListProps {
  items: string[];
  onPick: (item: string) => void;
}

/**
 * Shows items and remembers the picked one.
 */
export function ItemList({ items, onPick }: ListProps): JSX.Element {
  const [picked, setPicked] = useState<string | null>(null);
  return (
    <ul className="items">
      {items.map((item) => (
        <Row key={item} label={item} active={item === picked} onClick={() => choose(item)} />
      ))}
    </ul>
  );

  function choose(item: string) {
    setPicked(item);
    onPick(item);
  }
}

// One row of the list.
const Row = ({ label, active, onClick }: RowProps) => (
  <li className={active ? "active" : ""} onClick={onClick}>
    {formatLabel(label)}
  </li>
);

export class Counter extends React.Component<CounterProps> {
  // Render the current count.
  render() {
    return <span>{this.props.count}</span>;
  }
}
