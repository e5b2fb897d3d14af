"""See through the banners: the lab's services that lie about what they are (banner modes
static-random and random-random); name the true product behind each."""
from mtdlab.classroom.checking import ACCEPTED, MALFORMED, UNAVAILABLE, WRONG, Context, Exercise, Verdict, refuse
from mtdlab.contract.catalog import SERVICE_KINDS

POINTS = 15


def true_product(kind: str) -> str:
    """The product's first word, as nmap names the real program (Gunicorn, OpenSSH, vsftpd...)."""
    return SERVICE_KINDS[kind].product.split()[0].lower()


def lying(truth) -> list[str]:
    return sorted(name for name, p in truth.services.items() if p.banner.endswith("-random"))


class SeeThroughBanners(Exercise):
    name = "see-through-banners"
    title = "See through the banners"
    answer_format = "SERVICE PRODUCT, e.g. web nginx"
    max_tries = 2           # a handful of products: more tries would let a team guess

    def fits(self, scenario) -> bool:
        return any(s.banner.mode.endswith("-random") for s in scenario.services)

    def available(self, truth) -> str | None:
        return None if lying(truth) else "no service of your lab has a replaced banner"

    def check(self, answer: str, ctx: Context) -> Verdict:
        parts = answer.split()
        if len(parts) < 2:
            return refuse(MALFORMED, "expected SERVICE PRODUCT")
        service, product = parts[0], parts[1].lower()
        if service not in lying(ctx.truth):
            return refuse(UNAVAILABLE, f"{service!r} is not one of your lab's services with a replaced banner "
                                       f"({', '.join(lying(ctx.truth)) or 'none'})")
        if product != true_product(ctx.truth.services[service].kind):
            return Verdict(0, WRONG, f"that is not what runs behind {service}", key=f"banner:{service}")
        return Verdict(POINTS, ACCEPTED, f"{service} is {product}", key=f"banner:{service}")


EXERCISE = SeeThroughBanners()
