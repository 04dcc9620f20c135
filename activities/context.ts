/** The running activity's context, or null outside an activity (unit tests, scripts). */
import { Context } from '@temporalio/activity';

export function activityContext(): Context | null {
  try {
    return Context.current();
  } catch {
    return null;
  }
}
