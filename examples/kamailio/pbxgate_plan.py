# pbxgate_plan.py reads the route plan pbxgate's GET /pbx/v1/route answered
# (kept in $avp(pbx_plan) by kamailio.cfg) for app_python3, one step at a
# time, and leaves what the step rings in $var()s the configuration reads:
#
#   $var(pbx_last)          1 when the step index is past the last step
#   $var(pbx_aors)          the step's device AoRs, space-separated
#   $var(pbx_naors)         how many
#   $var(pbx_numbers)       the step's external E.164 numbers, space-separated
#   $var(pbx_nnumbers)      how many
#   $var(pbx_timeout)       the step's timeout in milliseconds
#   $var(pbx_final)         the final destination's kind (voicemail, external, ...)
#   $var(pbx_final_target)  its mailbox, number or id
#   $var(pbx_final_timeout) how long an external final number rings, in ms (0: for good)
import json

import KSR


def _ms(seconds):
    return int(float(seconds or 0) * 1000)


class Plan:
    def child_init(self, rank):
        return 0

    def step(self, msg, arg):
        plan = json.loads(KSR.pv.get("$avp(pbx_plan)") or "{}")
        steps = plan.get("steps") or []
        i = int(arg or 0)
        final = plan.get("final") or {}
        kind = final.get("kind", "hangup")
        target = final.get("mailbox") or final.get("number") or final.get("target") or ""
        KSR.pv.sets("$var(pbx_final)", kind)
        KSR.pv.sets("$var(pbx_final_target)", target or "-")
        KSR.pv.seti("$var(pbx_final_timeout)", _ms(final.get("timeout")))
        if i >= len(steps):
            KSR.pv.seti("$var(pbx_last)", 1)
            return 1
        step = steps[i]
        targets = step.get("targets") or []
        aors = [t["uri"] for t in targets if t.get("kind") == "device" and t.get("uri")]
        numbers = [t["number"] for t in targets if t.get("kind") == "external" and t.get("number")]
        KSR.pv.seti("$var(pbx_last)", 0)
        KSR.pv.sets("$var(pbx_aors)", " ".join(aors) or "-")
        KSR.pv.seti("$var(pbx_naors)", len(aors))
        KSR.pv.sets("$var(pbx_numbers)", " ".join(numbers) or "-")
        KSR.pv.seti("$var(pbx_nnumbers)", len(numbers))
        KSR.pv.seti("$var(pbx_timeout)", max(_ms(step.get("timeout")), 1000))
        return 1


def mod_init():
    return Plan()
