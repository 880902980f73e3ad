import { useEffect, useState } from "react";
import { api } from "../api/client";

/** The database file the server shows; null until known (or when the server cannot say). */
export function useServedFile(): string | null {
  const [path, setPath] = useState<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    api.info().then(
      (info) => {
        if (!cancelled) setPath(info.db);
      },
      () => undefined,
    );
    return () => {
      cancelled = true;
    };
  }, []);
  return path;
}
