import { SearchIcon } from "./Icons";

interface SearchBoxProps {
  placeholder: string;
  value: string;
  testId: string;
  small?: boolean;
  onChange(value: string): void;
}

/** A search input with its magnifier icon, as used above lists and tables. */
export function SearchBox({ placeholder, value, testId, small = false, onChange }: SearchBoxProps) {
  return (
    <div className={small ? "search-box small" : "search-box"}>
      <span className="search-icon">
        <SearchIcon />
      </span>
      <input
        type="search"
        placeholder={placeholder}
        value={value}
        data-testid={testId}
        onChange={(e) => onChange(e.target.value)}
      />
    </div>
  );
}
