/** The answer of POST /api/groups/series, one group and key at a time so a long read streams. */
import type { GroupRequestJson, GroupSeriesJson } from "../contract/groups.js";
import type { GroupSeriesOptions } from "../query/group-aggregate.js";
import type { StonksService } from "../query/service.js";

export function* groupSeriesPieces(
  db: StonksService,
  groups: readonly GroupRequestJson[],
  keys: readonly string[],
  options: GroupSeriesOptions,
): Generator<string> {
  yield '{"series":[';
  let first = true;
  for (const group of groups) {
    for (const key of keys) {
      const series = db.getGroupSeries(group.run_ids, key, options);
      const json: GroupSeriesJson = {
        label: group.label,
        key,
        runs_with_key: series.runsWithKey,
        steps: series.steps,
        mean: series.mean,
        std: series.std,
        stderr: series.stderr,
        min: series.min,
        max: series.max,
        count: series.count,
        first_step: series.firstStep,
        last_step: series.lastStep,
      };
      yield `${first ? "" : ","}${JSON.stringify(json)}`;
      first = false;
    }
  }
  yield "]}";
}
